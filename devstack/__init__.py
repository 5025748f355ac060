"""The Docker-free local stack: moto as AWS, a gateway that calls the real handlers, sandboxes."""
