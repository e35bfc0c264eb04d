axis_skid_buffer.v
crc64_nvme.v
ram_sdp.v
sync_fifo.v
axis_byte_packer.v
lz4_dec_parser.v
lz4_dec_copy.v
lz4_decompress.v
