"""The simulator as Basispoort's SAML identity provider: its login page, deep link and metadata.

For tests and the demo only: it signs (signxml, its own EC test key) whatever person is clicked
on its page, for the assertion consumer the deep link or AuthnRequest names, and signs its own
metadata with the same key. Given service providers (service_providers.py) it checks their
AuthnRequests as a strict IdP does. Real people's ids and names are fine here: this is the
simulator's page about its own simulated people.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import secrets
import threading
import zlib
from collections import Counter
from urllib.parse import urlencode

import structlog
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from signxml import XMLSigner

from plugins.basispoort.simulator.errors import UnknownSchool
from plugins.basispoort.simulator.pki import self_signed
from plugins.basispoort.simulator.service_providers import RequestRefused, ServiceProviders
from plugins.basispoort.simulator.world import World

log = structlog.get_logger()

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
LIFETIME = dt.timedelta(minutes=5)
METADATA_LIFETIME = dt.timedelta(days=7)  # its validUntil, as a federation re-signs weekly
DEEP_LINK = "/login/leerlingen/snelkoppelaar"


def _instant(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class SimulatorIdp:
    """Signs assertions for the people of a World; addresses are under the server's base URL."""

    def __init__(
        self, world: World, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None
    ) -> None:
        self.world = world
        self._key = key or ec.generate_private_key(ec.SECP256R1())
        self._cert = self_signed(self._key, "basispoort-sim idp").sign(self._key, hashes.SHA256())
        self.service_providers = ServiceProviders()
        # How each AuthnRequest fared: "signed", "unsigned", "unchecked" or "refused:<reason>".
        self.verdicts: Counter[str] = Counter()
        self._verdicts_lock = threading.Lock()

    def count(self, verdict: str) -> None:
        with self._verdicts_lock:
            self.verdicts[verdict] += 1

    def certificate_pem(self) -> str:
        """The signing certificate, as the metadata publishes it."""
        return self._cert.public_bytes(serialization.Encoding.PEM).decode()

    @staticmethod
    def entity_id(base: str) -> str:
        return f"{base}idp/metadata"

    def metadata(self, base: str) -> bytes:
        """The identity provider's metadata: entity id, signing certificate, sign-in address;
        signed (enveloped, the whole document) by the same key, valid for a week."""
        document_id = "_" + secrets.token_hex(16)
        valid_until = _instant(dt.datetime.now(dt.UTC) + METADATA_LIFETIME)
        entity = etree.Element(f"{{{MD}}}EntityDescriptor", nsmap={"md": MD, "ds": DS})
        for key, value in (
            ("ID", document_id),
            ("entityID", self.entity_id(base)),
            ("validUntil", valid_until),
        ):
            entity.set(key, value)
        # Where the signature goes: the first child, as the metadata schema orders it.
        etree.SubElement(entity, f"{{{DS}}}Signature", Id="placeholder")
        idp = etree.SubElement(entity, f"{{{MD}}}IDPSSODescriptor")
        idp.set("protocolSupportEnumeration", SAMLP)
        key = etree.SubElement(idp, f"{{{MD}}}KeyDescriptor", use="signing")
        data = etree.SubElement(etree.SubElement(key, f"{{{DS}}}KeyInfo"), f"{{{DS}}}X509Data")
        der = self._cert.public_bytes(serialization.Encoding.DER)
        etree.SubElement(data, f"{{{DS}}}X509Certificate").text = base64.b64encode(der).decode()
        sso = etree.SubElement(idp, f"{{{MD}}}SingleSignOnService", Binding=REDIRECT)
        sso.set("Location", f"{base}idp/sso")
        signed = self._sign(entity, document_id)
        return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")

    def school_of_ref(self, ref: str) -> int | None:
        for school_id in self.world.school_ids:
            if self.world.ref(school_id) == ref:
                return school_id
        return None

    def deep_link(self, query: dict[str, list[str]]) -> str:
        """The snelkoppelaar: the people of the INSTELLING_REF school, for TARGET."""
        target = _one(query, "TARGET")
        school_id = self.school_of_ref(_one(query, "INSTELLING_REF"))
        if not target.startswith(("http://", "https://")) or school_id is None:
            raise UnknownSchool("no such instellingRef, or no TARGET")
        # An IdP knows its service providers from their metadata; koppel's entity id is the
        # metadata address beside its consumer address, which is all the simulator needs.
        audience = target.removesuffix("/acs") + "/metadata"
        self.service_providers.check_destination(audience, target)
        return self.people_page(school_id, target, audience, "", _one(query, "RelayState"))

    def authn_request(self, query: dict[str, list[str]], raw_query: str = "") -> str:
        """SP-initiated (HTTP-Redirect): read and check the AuthnRequest (``raw_query``: the
        query as received, whose octets its signature covers), then the person picks a school.
        RequestRefused when a registered service provider's request fails a check."""
        raw = zlib.decompress(base64.b64decode(_one(query, "SAMLRequest")), -15)
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        request = etree.fromstring(raw, parser=parser)
        issuer = request.findtext(f"{{{SAML}}}Issuer") or ""
        target = request.get("AssertionConsumerServiceURL") or ""
        context = {
            "target": target,
            "audience": issuer,
            "in_response_to": request.get("ID") or "",
            "relay": _one(query, "RelayState"),
        }
        ids = {"sp": issuer, "request_id": context["in_response_to"]}
        if self.service_providers.registered:
            try:
                verdict = self.service_providers.check_request(raw_query, issuer, target)
            except RequestRefused as refused:
                self.count(f"refused:{refused.reason}")
                log.info("idp_authn_request_refused", reason=refused.reason, **ids)
                raise
            note = (
                "Het AuthnRequest is ondertekend en de handtekening is gecontroleerd met de "
                "geregistreerde SP-metadata."
                if verdict == "signed"
                else "Het AuthnRequest is niet ondertekend; de SP-metadata staat dat toe."
            )
            log.info("idp_authn_request_verified", signed=verdict == "signed", **ids)
        else:
            verdict = "unchecked"
            note = (
                "Niet gecontroleerd: deze simulator kent geen SP-metadata, dus elk AuthnRequest "
                "wordt aangenomen (geef --sp-metadata om handtekeningen te eisen)."
            )
            log.info("idp_authn_request_unchecked", **ids)
        self.count(verdict)
        items = "".join(
            f'<li><a href="/idp/people?{html.escape(urlencode({**context, "school": sid}))}">'
            f"{html.escape(self.world.details(sid)['naam'] or str(sid))} ({sid})</a></li>"
            for sid in self.world.visible_ids()
        )
        return _page(
            "Kies je school", f'<p id="request-check">{html.escape(note)}</p><ul>{items}</ul>'
        )

    def people(self, query: dict[str, list[str]]) -> str:
        school_id = int(_one(query, "school") or 0)
        return self.people_page(
            school_id,
            _one(query, "target"),
            _one(query, "audience"),
            _one(query, "in_response_to"),
            _one(query, "relay"),
        )

    def people_page(
        self, school_id: int, target: str, audience: str, in_response_to: str, relay: str
    ) -> str:
        """Every staff member and pupil of the school, each a button that signs them in."""
        hidden = {
            "school": str(school_id),
            "target": target,
            "audience": audience,
            "in_response_to": in_response_to,
            "relay": relay,
        }
        fields = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in hidden.items()
        )

        def button(person: dict, what: str) -> str:
            names = person["persoonsgegevens"]
            name = " ".join(
                n for n in (names["voornaam"], names["voorvoegsel"], names["achternaam"]) if n
            )
            return (
                f'<li><form method="post" action="/idp/sign-in">{fields}'
                f'<button name="person" value="{person["id"]}">'
                f"{html.escape(name)} ({what}, {person['id']})</button></form></li>"
            )

        staff = self.world.staf(school_id)["medewerkers"]
        pupils = self.world.leerlingen(school_id)["leerlingen"]
        body = (
            "<h2>Medewerkers</h2><ul>"
            + "".join(button(p, ", ".join(p.get("rollen") or ["medewerker"])) for p in staff)
            + "</ul><h2>Leerlingen</h2><ul>"
            + "".join(button(p, "leerling") for p in pupils)
            + "</ul>"
        )
        return _page(f"Inloggen bij {html.escape(self.world.details(school_id)['naam'])}", body)

    def sign_in(self, base: str, form: dict[str, list[str]]) -> str:
        """The signed response for the clicked person, posted on to the consumer by the browser."""
        school_id = int(_one(form, "school"))
        person_id = int(_one(form, "person"))
        people = (
            self.world.staf(school_id)["medewerkers"]
            + self.world.leerlingen(school_id)["leerlingen"]
        )
        person = next((p for p in people if p["id"] == person_id), None)
        if person is None:
            raise UnknownSchool("no such person at this school")
        target = _one(form, "target")
        self.service_providers.check_destination(_one(form, "audience"), target)
        xml = self.response(
            base,
            target=target,
            audience=_one(form, "audience"),
            in_response_to=_one(form, "in_response_to"),
            attributes={
                "instellingRef": self.world.ref(school_id),
                "userId": str(person_id),
                "eckId": person.get("eckid") or "",
            },
        )
        relay = _one(form, "relay")
        relay_field = (
            f'<input type="hidden" name="RelayState" value="{html.escape(relay)}">' if relay else ""
        )
        return _page(
            "Doorsturen",
            f'<form id="saml" method="post" action="{html.escape(target)}">'
            f'<input type="hidden" name="SAMLResponse" value="{base64.b64encode(xml).decode()}">'
            f'{relay_field}<button id="continue">Doorgaan</button></form>'
            "<script>document.getElementById('saml').submit()</script>",
        )

    def response(
        self,
        base: str,
        *,
        target: str,
        audience: str,
        in_response_to: str,
        attributes: dict[str, str],
    ) -> bytes:
        """A samlp:Response with one assertion, signed (enveloped) by the simulator's key."""
        now = dt.datetime.now(dt.UTC)
        issuer = self.entity_id(base)
        response = etree.Element(f"{{{SAMLP}}}Response", nsmap={"samlp": SAMLP, "saml": SAML})
        response_attrs = {
            "ID": "_" + secrets.token_hex(16),
            "Version": "2.0",
            "IssueInstant": _instant(now),
            "Destination": target,
        }
        if in_response_to:
            response_attrs["InResponseTo"] = in_response_to
        for key, value in response_attrs.items():
            response.set(key, value)
        etree.SubElement(response, f"{{{SAML}}}Issuer").text = issuer
        status = etree.SubElement(response, f"{{{SAMLP}}}Status")
        etree.SubElement(status, f"{{{SAMLP}}}StatusCode", Value=f"{SAMLP[:-8]}status:Success")
        response.append(
            self._signed_assertion(now, issuer, target, audience, in_response_to, attributes)
        )
        return etree.tostring(response)

    def _signed_assertion(
        self,
        now: dt.datetime,
        issuer: str,
        target: str,
        audience: str,
        in_response_to: str,
        attributes: dict[str, str],
    ) -> etree._Element:
        assertion_id = "_" + secrets.token_hex(16)
        assertion = etree.Element(f"{{{SAML}}}Assertion", nsmap={"saml": SAML})
        for key, value in (
            ("ID", assertion_id),
            ("Version", "2.0"),
            ("IssueInstant", _instant(now)),
        ):
            assertion.set(key, value)
        etree.SubElement(assertion, f"{{{SAML}}}Issuer").text = issuer
        # Where signxml puts the enveloped signature: after the Issuer, as the schema orders it.
        etree.SubElement(assertion, f"{{{DS}}}Signature", nsmap={"ds": DS}, Id="placeholder")
        subject = etree.SubElement(assertion, f"{{{SAML}}}Subject")
        name_id = etree.SubElement(subject, f"{{{SAML}}}NameID")
        name_id.set("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
        name_id.text = attributes["userId"]
        confirmation = etree.SubElement(
            subject,
            f"{{{SAML}}}SubjectConfirmation",
            Method="urn:oasis:names:tc:SAML:2.0:cm:bearer",
        )
        data = etree.SubElement(confirmation, f"{{{SAML}}}SubjectConfirmationData")
        data.set("Recipient", target)
        data.set("NotOnOrAfter", _instant(now + LIFETIME))
        if in_response_to:
            data.set("InResponseTo", in_response_to)
        conditions = etree.SubElement(assertion, f"{{{SAML}}}Conditions")
        conditions.set("NotBefore", _instant(now - dt.timedelta(seconds=30)))
        conditions.set("NotOnOrAfter", _instant(now + LIFETIME))
        restriction = etree.SubElement(conditions, f"{{{SAML}}}AudienceRestriction")
        etree.SubElement(restriction, f"{{{SAML}}}Audience").text = audience
        authn = etree.SubElement(assertion, f"{{{SAML}}}AuthnStatement", AuthnInstant=_instant(now))
        context = etree.SubElement(authn, f"{{{SAML}}}AuthnContext")
        etree.SubElement(
            context, f"{{{SAML}}}AuthnContextClassRef"
        ).text = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        statement = etree.SubElement(assertion, f"{{{SAML}}}AttributeStatement")
        for name, value in attributes.items():
            if value:
                attribute = etree.SubElement(statement, f"{{{SAML}}}Attribute", Name=name)
                etree.SubElement(attribute, f"{{{SAML}}}AttributeValue").text = value
        return self._sign(assertion, assertion_id)

    def _sign(self, element: etree._Element, element_id: str) -> etree._Element:
        """``element`` with an enveloped signature (at its placeholder) by the simulator's key."""
        algorithm = "rsa-sha256" if isinstance(self._key, rsa.RSAPrivateKey) else "ecdsa-sha256"
        signer = XMLSigner(
            signature_algorithm=algorithm, digest_algorithm="sha256", c14n_algorithm=EXC_C14N
        )
        key = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return signer.sign(element, key=key, cert=self.certificate_pem(), reference_uri=element_id)


def refusal_page(refused: RequestRefused) -> str:
    """What the browser sees instead of the login page: what is wrong, no assertion."""
    return _page(
        "Inlogverzoek geweigerd",
        f'<p id="reason">{html.escape(refused.reason)}</p>'
        f"<p>{html.escape(refused.explanation)}</p>",
    )


def _one(query: dict[str, list[str]], name: str) -> str:
    return (query.get(name) or [""])[0]


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>{title} · '
        f"Basispoort (simulator)</title></head><body><h1>{title}</h1>{body}</body></html>"
    )
