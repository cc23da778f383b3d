"""The README's first command: 'koppel demo' runs the whole job on the embedded default."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin

import httpx

from cli.demo_sso import hidden_fields, person_buttons


def test_demo_links_syncs_twice_and_answers_logins(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPPEL_")}
    env["COLUMNS"] = "200"
    result = subprocess.run(
        [sys.executable, "-m", "cli", "demo", "--schools", "6"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "School gevonden en heeft toestemming verleend." in out
    assert "succeeded" in out
    assert "Inloggen kan alleen vanaf het netwerk van de school." in out
    assert "Probeer het morgen opnieuw." in out
    assert (tmp_path / "koppel-demo.db").exists()
    assert "Traceback" not in result.stderr
    # Signing in through the simulator's IdP, koppel's ACS and OIDC provider: one row each.
    sso = out[out.index("5. Signing in to the LVS") : out.index("Look around")]
    rows = [line for line in sso.splitlines() if line.startswith("│")]
    assert len(rows) == 3, sso
    teacher, pupil_home, pupil_school = (row.split("│")[1:5] for row in rows)
    assert [cell.strip() for cell in teacher[::2]] == ["teacher", "yes"]
    assert "staff, BRIN6 " in teacher[3] and "roles: Leerkracht" in teacher[3]
    assert [cell.strip() for cell in pupil_home[::2]] == ["pupil", "no"]
    assert "from home" in pupil_home[1]
    assert pupil_home[3].strip() == "Inloggen kan alleen vanaf het netwerk van de school."
    assert [cell.strip() for cell in pupil_school[::2]] == ["pupil", "yes"]
    assert "from the school network" in pupil_school[1]
    assert "pupil, BRIN6 " in pupil_school[3] and "roles: -" in pupil_school[3]
    # koppel signed its AuthnRequests with the demo's key; the simulator's IdP, with koppel's SP
    # metadata registered, verified all three and refused one altered on the way.
    assert (
        "checked each AuthnRequest's signature (rsa-sha256) against koppel's registered SP "
        "metadata: 3 verified; one with its RelayState altered on the way: refused (HTTP 403, "
        "signature_invalid)."
    ) in sso
    # A school gives consent during the demo, and the next check finds it.
    assert "gives consent in Basispoort" in out and "may log in from" in out
    # The closing hints run as printed, in a shell, from where the demo ran.
    hints = out[out.index("Look around") :].split("\n\n")[0].splitlines()[1:]
    assert len(hints) == 3
    for hint in hints:
        ran = subprocess.run(
            ["bash", "-c", hint.strip()], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert ran.returncode == 0 and ran.stdout and not ran.stderr, (hint, ran.stderr)
    # So do the README's lines after the demo, from a folder with the demo's .venv and database.
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = readme[readme.index("```sh", readme.index("After `scripts/demo`")) :]
    script = block[len("```sh") : block.index("```", 5)]
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0 and not ran.stderr, ran.stderr
    assert "Inloggen kan alleen vanaf het netwerk van de school." in ran.stdout
    # It ends by offering a school's Basispoort tab.
    assert out.rstrip().endswith("scripts/demo --serve")


def test_demo_serves_a_schools_tab_behind_a_one_time_link(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPPEL_")}
    env.update(COLUMNS="200", PYTHONUNBUFFERED="1")
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "cli", "demo", "--schools", "4", "--serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C stops it as in a shell: a pytest-xdist process was seen with SIGINT ignored,
        # which the demo inherited (and then never stopped).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        printed, link = next_link(demo)
        assert link.startswith(f"http://127.0.0.1:{port}/school/link/")
        first = httpx.get(link)
        assert first.status_code == 303 and "koppel_session=" in first.headers["set-cookie"]
        assert first.headers["location"].endswith("/basispoort")
        assert httpx.get(link).status_code == 410  # once only
        demo.stdin.write("\n")  # type: ignore[union-attr]
        demo.stdin.flush()  # type: ignore[union-attr]
        assert next_link(demo)[1] != link
        signs_in_to_the_console(f"http://127.0.0.1:{port}", printed)
        follows_the_deep_link(f"http://127.0.0.1:{port}", printed)
        demo.send_signal(signal.SIGINT)
        assert demo.wait(30) == 0
        assert "Traceback" not in demo.stderr.read()  # type: ignore[union-attr]
    finally:
        demo.kill()
        demo.wait(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def next_link(demo: subprocess.Popen[str]) -> tuple[str, str]:
    """What the demo printed up to the next one-time link (it prints one, then waits for
    Enter), and that link."""
    printed = []
    for line in demo.stdout:  # type: ignore[union-attr]
        if "Open within a minute" in line:
            return "".join(printed), line.split(": ", 1)[1].strip()
        printed.append(line)
    raise AssertionError("the demo ended without printing a link")


def signs_in_to_the_console(base: str, printed: str) -> None:
    """Sign in with the printed account, as the console's form does."""
    assert f"{base}/console" in printed
    name, password = re.findall(r"sign in as (\S+) with the password (\S+)", printed)[0]
    # The session cookie is Secure: a browser sends it to 127.0.0.1 over http, httpx does not,
    # so this client carries it by hand.
    with httpx.Client(base_url=base) as browser:
        form = browser.get("/console/sign-in")
        cookie = {"Cookie": f"koppel_session={form.cookies['koppel_session']}"}
        csrf = hidden_fields(form.text)["csrf_token"]
        wrong = {"name": name, "password": password + "x", "csrf_token": csrf}
        refused = browser.post("/console/sign-in", data=wrong, headers=cookie)
        assert refused.status_code == 401
        right = {**wrong, "password": password}
        signed = browser.post("/console/sign-in", data=right, headers=cookie)
        assert signed.status_code == 303, signed.text
        session = {"Cookie": f"koppel_session={signed.cookies['koppel_session']}"}
        home = browser.get("/console", headers=session)
        assert home.status_code == 200 and 'action="/console/sign-out"' in home.text


def follows_the_deep_link(base: str, printed: str) -> None:
    """The printed snelkoppelaar lists the school's people; a teacher clicked is signed in."""
    link = next(line.strip() for line in printed.splitlines() if "/snelkoppelaar?" in line)
    with httpx.Client() as browser:
        people = browser.get(link)
        assert people.status_code == 200
        teacher = next(
            v for label, v in person_buttons(people.text).items() if "Leerkracht" in label
        )
        form = {**hidden_fields(people.text), "person": teacher}
        signed = browser.post(urljoin(link, "/idp/sign-in"), data=form)
        answer = browser.post(f"{base}/sso/basispoort/acs", data=hidden_fields(signed.text))
    assert answer.status_code == 200 and "Je bent ingelogd" in answer.text, answer.text
