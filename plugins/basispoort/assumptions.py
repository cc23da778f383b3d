"""Everything about Basispoort that no public source confirms, in one place, easy to change.

docs/basispoort-api.md marks these as assumptions. Code elsewhere reads them from here, so
when Basispoort confirms or contradicts one, this is the only file to edit.
"""

from __future__ import annotations

from datetime import timedelta

# -- IP addresses of a school ---------------------------------------------------------------------
# The partner API shows no endpoint for the test-location addresses schools register. We assume
# this one, answering {"ipadressen": ["192.0.2.0/24", "2001:db8::/48"]}; it is only asked when
# KOPPEL_BASISPOORT_IPADRESSEN is on.
IPADRESSEN_PATH = "rest/v2/instellingen/{id}/ipadressen"
IPADRESSEN_KEY = "ipadressen"

# A 404 from that endpoint means "Basispoort does not offer this" (snapshot networks None, the
# school keeps its own allow-list), never "the school has no addresses".
IPADRESSEN_404_MEANS_NOT_OFFERED = True

# -- Change stamps --------------------------------------------------------------------------------
# metaResult.mutationTimestamp is on every response. We assume the one on the details endpoint
# (small: no people) moves whenever any of the school's data changes (details, groups, pupils,
# staff), so an unchanged school costs one small request a night and is not fetched or applied.
# Turned off, the overview (which carries every pupil) is read for the stamp instead.
CHANGE_STAMP_FROM_DETAILS = True

# -- Consent feed ---------------------------------------------------------------------------------
# The toegekend/ingetrokken lists are per calendar day in an unknown time zone, so a grant made
# just after midnight may be listed under a neighbouring day. Asking for day D therefore also asks
# the days this far before and after D. A school found both granted and revoked in that window is
# settled by asking its permission now.
CONSENT_DAYS_BEFORE = timedelta(days=1)
CONSENT_DAYS_AFTER = timedelta(days=1)

# No time zone is more than a day ahead of UTC: days later than that are not asked for.
SOURCE_CALENDAR_MAX_AHEAD = timedelta(days=1)

# -- Connection check -----------------------------------------------------------------------------
# What request-permission=true does is unknown (it probably asks the school); koppel only reads.
REQUEST_PERMISSION = False

# nawsearch may hide inactive schools by default; asking activeOnly=false lets the check say
# "inactive" instead of "not found".
SEARCH_ACTIVE_ONLY = False

# -- Single sign-on (SAML 2.0) -----------------------------------------------------------------
# Basispoort's attribute list is not public. We assume its assertions name the school by its
# instellingRef (the value its snelkoppelaar deep link carries) and the person by their
# Basispoort user id, with the ECK iD when the school shares it; the first name found is used.
# The NameID is read as the user id when no attribute carries it.
BASISPOORT_SCHOOL_REF_ATTRIBUTES = ("instellingRef", "urn:basispoort:instellingRef")
BASISPOORT_USER_ID_ATTRIBUTES = ("userId", "uid", "urn:basispoort:userId")
BASISPOORT_ECKID_ATTRIBUTES = ("eckId", "eckid")
BASISPOORT_NAME_ID_IS_USER_ID = True

# Entree Federatie names the school by BRIN (nlEduPersonHomeOrganizationId; 4 characters, or 6
# with the location) and the person by its own uid, which is not a Basispoort id: people synced
# from Basispoort are found by their ECK iD, sent only when the school consents to it. Without
# it an Entree sign-in finds nobody ("known from tomorrow" would be wrong for ever: the page
# says so). A BRIN with several linked locations needs the 6-character form.
# eduPersonAffiliation (student/employee/staff) is not needed: whether the person is a pupil or
# staff comes from the synced record the ECK iD finds, not from what the assertion claims.
ENTREE_BRIN_ATTRIBUTES = (
    "nlEduPersonHomeOrganizationId",
    "urn:mace:dir:attribute-def:nlEduPersonHomeOrganizationId",
)
ENTREE_ECKID_ATTRIBUTES = ("eckId", "urn:mace:dir:attribute-def:eckId")
ENTREE_USER_ID_ATTRIBUTES = ("uid", "urn:mace:dir:attribute-def:uid")

# Which part is signed (the Response, the Assertion or both) is not documented for either
# provider; koppel accepts a valid signature on either, by the metadata's certificate, and then
# reads only what that signature covers. Encrypted assertions are not supported (docs/sso.md).
# Basispoort's deep links are IdP-initiated (no AuthnRequest), so both accept unsolicited
# sign-ins. Neither provider is known to require signed AuthnRequests; koppel signs them when
# KOPPEL_SSO_SIGNING_KEY is set, unless KOPPEL_BASISPOORT_*_SIGN_REQUESTS says not to.
BASISPOORT_UNSOLICITED = True
ENTREE_UNSOLICITED = True
