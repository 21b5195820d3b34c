"""The doctor's visit protocol (протокол приёма): a draft kept on the server while the doctor
types, signed into the record as a visit with its diagnoses (docs/protocol.md)."""
