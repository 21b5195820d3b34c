"""Registration, sign-in, second factor, recovery, sessions and identity verification."""
