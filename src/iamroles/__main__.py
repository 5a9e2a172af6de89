from iamroles.cli import main

main()
