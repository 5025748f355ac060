"""``python -m examples.bookings --api-base ... --api-key ... --webhook-secret ...``"""

from examples.bookings.app import main

main()
