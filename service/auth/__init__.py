"""Accounts: password hashing, the server-side session store and login throttling."""
