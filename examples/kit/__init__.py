"""What the example apps share: the payments API client's plumbing (``api``), verified and
deduplicated callbacks with the test switches (``callbacks``) and the small HTTP server
(``server``). Like the apps, it uses only the standard library, ``requests`` and
``standardwebhooks``."""
