"""Reply cache stores (the ``CacheStore`` port): in this process's memory, or shared through Redis."""
