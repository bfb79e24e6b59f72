"""`python -m influence_pipeline`: the `influence` command, where no console script is on the PATH."""
from influence_pipeline.cli import app

app(prog_name="influence")
