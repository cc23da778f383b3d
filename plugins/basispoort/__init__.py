"""The Basispoort identity source: mTLS client, JSON-to-snapshot mapping, and its plugin hook."""
