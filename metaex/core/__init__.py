"""The logic of metaex. Importable without typer, rich or torch; heavy imports live inside functions."""
