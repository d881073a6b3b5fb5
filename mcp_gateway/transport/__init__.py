"""What every transport needs and none should write twice: frame decoding with a size limit, the Origin
check, requests to the client with a timeout, and which notifications a stream forwards."""
