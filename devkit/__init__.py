"""The development kit: the local sandbox (a real Asterisk 22, PostgreSQL and Redmine on
loopback), the demo data and the synthetic call history. It lives in the checkout beside the
product and never in its wheel: the product (sticky_router) imports it only lazily, from the CLI
commands that start the sandbox or load the demo, and says so clearly when it is absent."""
