axis_skid_buffer.v
crc64_nvme.v
