"""The web side: agent sign-in and the agent screen (pops), admin sign-in and pages, a JSON API.

A thin adapter like the ARI application: it reads and writes Postgres through the same pool and
never sits on a call's path. `create_app` (web/app.py) is the one app factory for the router
process and for tests.
"""
