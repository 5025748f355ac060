"""Example applications that use the payments API the way a merchant's developers would."""
