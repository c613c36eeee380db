"""Budget stores for the router: in this process (memory) or shared through Redis, with leases."""
