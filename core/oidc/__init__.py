"""koppel as the LVS's OpenID Connect provider: clients, signing keys, codes, stored state."""
