"""``python -m examples.marketplace --api-base ... --api-key ... --secret ...``"""

from examples.marketplace.app import main

main()
