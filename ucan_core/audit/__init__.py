"""Attack audits of certificates, and the empirical check of a certified 2-D slice."""
