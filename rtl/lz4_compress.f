axis_skid_buffer.v
crc64_nvme.v
ram_sdp.v
sync_fifo.v
axis_byte_packer.v
lz4_comp_matcher.v
lz4_comp_emitter.v
lz4_compress.v
