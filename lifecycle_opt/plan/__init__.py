"""Plans: the Solution, the one planning entry point, uncertainty and sweeps."""
