"""koppel as a SAML 2.0 service provider: login methods, verification, state shared by replicas."""
