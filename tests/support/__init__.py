"""Helpers every test folder shares (importable because pytest's `pythonpath` has tests/).

- `cli`: run `inv` as a user types it; a throwaway project on the offline wheelhouse.
- `wheels`: tiny wheels built in the test session (no network).
- `fakes`: settings, a small deterministic layer zip, moto clients, a Lambda function.
- `faults`: fault injection on botocore clients and the moto server on 127.0.0.1.
- `elf`: small real ELF files (gcc-compiled shared objects, patched copies, a bare header).
- `browser`: headless Chromium screenshots and DOM dumps of a local page.
"""
