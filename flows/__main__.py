from blankett.flows.cli import main

main()
