"""Link-prediction analysis (topological concentration): to come."""
