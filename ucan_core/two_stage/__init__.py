"""Two-stage certification (select, then certify): Dual RS and sound routing."""
