"""Input formats of reconciliation, one module each, pure: bytes and a file name in, frozen
dataclasses out, amounts in integer minor units. No database, no network, no file I/O.

- ``camt053``: ISO 20022 bank-to-customer statements, camt.053.001.02 to 001.08 (lxml);
- ``stripe_csv``: Stripe's itemised payout reconciliation report (csv);
- ``camt053_account``: whose account a statement file is for, and what the import refuses
  about it (another account or currency than regie's bank account);
- ``show``: what ``regie bank-statement show`` prints (JSON and a rich table);
- ``errors.SourceError``: every refused input, naming the file and, where known, the line;
- ``messages``: what a refusal says, in English (the API's, the command line's) and French
  (the finance workspace's French pages).
"""
