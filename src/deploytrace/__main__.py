from deploytrace.cli.main import main

main()
