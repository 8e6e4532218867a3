"""The test kit that tests and benches share: SIPp phones (sipp.py, running the scenarios in
tests/sipp/), the SIP requests a phone received (sip_log.py), and headless Chromium's path and
arguments (chromium.py). It imports neither tests nor bench; bench never imports tests."""
