from blankett.flows.cli.app import main

main()
