"""Who signs in and how: sign-in pages, sessions, passwords, the sign-in rate limit,
known browsers, trusted proxies, accounts."""
