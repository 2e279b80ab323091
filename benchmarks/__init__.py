"""Instance generator and timing scripts for the matching engine (not part of the test suite)."""
