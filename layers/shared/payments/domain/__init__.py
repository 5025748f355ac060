"""Pure payments logic: no I/O, no environment. Imports nothing of ours but ``money``."""
