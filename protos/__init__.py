"""Protocol buffers: the .proto files and the Python modules generated from them."""
