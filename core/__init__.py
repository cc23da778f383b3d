"""koppel core: domain, plugin contract and sync engine; knows no broker and no source."""
