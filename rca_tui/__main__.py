from rca_tui.cli.main import run

run()
