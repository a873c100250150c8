"""The application above nn: the `microtensor` command (CLI), data loading and training with
progress, pictures, the demo. `microtensor.cli` is only a launcher that hands over to
`microtensor_app.cli` when the command runs, so the core never imports this package."""
