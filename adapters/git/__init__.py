"""pygit2 building blocks of the chat worktrees adapter (``adapters.git.worktrees.GitWorktrees``).

Every function here is synchronous and opens its own ``pygit2.Repository`` objects: the adapter runs each
one in a worker thread under the repository's lock (libgit2 wants one Repository object per thread).
"""
