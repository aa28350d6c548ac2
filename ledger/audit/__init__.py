"""The audit: the one enumeration of promoted artifacts, signature checks, verify."""
