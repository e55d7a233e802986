"""The knowledge base's machinery below the services: the packaged embedding model, text out of
files and web pages, and the vector store seam (``vectors.VectorStore``)."""
