/*
 * lzcache — CacheAccelerator register block
 *
 * The AXI4-Lite slave of cache_accelerator: identity and capabilities, control (enable, soft
 * reset), status, a scratch register for link tests, the traffic counters and the dictionary
 * id each decompress engine holds. Register map: cache_accelerator_defs.vh.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// One transaction at a time on each channel, OKAY responses: a write is taken when address
// and data are both valid and its response has been collected, a read when its data has been.
// Reads of an unmapped offset return the dictionary id window's value (0 outside it).
module accel_regs #
(
    // Engines of each kind (the result slots are these and the checksum unit)
    parameter N_COMPRESS = 2,
    parameter N_DECOMPRESS = 2,
    // Stream bytes per beat
    parameter BEAT_BYTES = 64,
    // Largest job in bytes, decompressor history, largest preset dictionary
    parameter MAX_JOB_BYTES = 1048576,
    parameter HISTORY_SIZE = 65536,
    parameter DICT_SIZE = 65536,
    // Largest preset dictionary of a compress engine
    parameter COMPRESS_DICT_SIZE = 65536,
    // Result slots: the engines, then the checksum unit
    parameter N_SLOTS = N_COMPRESS + N_DECOMPRESS + 1
)
(
    input  wire                 clk,
    input  wire                 rst,

    /*
     * AXI4-Lite slave
     */
    input  wire [11:0]          s_axil_awaddr,
    input  wire [2:0]           s_axil_awprot,
    input  wire                 s_axil_awvalid,
    output wire                 s_axil_awready,
    input  wire [31:0]          s_axil_wdata,
    input  wire [3:0]           s_axil_wstrb,
    input  wire                 s_axil_wvalid,
    output wire                 s_axil_wready,
    output wire [1:0]           s_axil_bresp,
    output wire                 s_axil_bvalid,
    input  wire                 s_axil_bready,
    input  wire [11:0]          s_axil_araddr,
    input  wire [2:0]           s_axil_arprot,
    input  wire                 s_axil_arvalid,
    output wire                 s_axil_arready,
    output wire [31:0]          s_axil_rdata,
    output wire [1:0]           s_axil_rresp,
    output wire                 s_axil_rvalid,
    input  wire                 s_axil_rready,

    /*
     * Control: enable (1 after reset) and a one-cycle soft reset pulse
     */
    output wire                 enable,
    output wire                 soft_reset,

    /*
     * What the registers show
     */
    input  wire [N_SLOTS-1:0]    slot_busy,
    input  wire [N_SLOTS*32-1:0] slot_dict_id,
    input  wire [31:0]          jobs_in,
    input  wire [31:0]          jobs_out,
    input  wire [63:0]          bytes_in,
    input  wire [63:0]          bytes_out,
    input  wire [31:0]          err_opcode,
    input  wire [31:0]          err_length,
    input  wire [31:0]          err_malformed,
    input  wire [31:0]          err_crc,
    input  wire [31:0]          incompressible,
    input  wire [7:0]           last_error,
    input  wire [31:0]          last_error_tag
);

/* verilator lint_off UNUSEDPARAM */
`include "cache_accelerator_defs.vh"
/* verilator lint_on UNUSEDPARAM */

localparam [31:0] MAX_JOB = MAX_JOB_BYTES;
localparam [31:0] HISTORY = HISTORY_SIZE;
localparam [31:0] DICT_BYTES = DICT_SIZE;
localparam [31:0] COMPRESS_DICT_BYTES = COMPRESS_DICT_SIZE;
localparam [7:0] COMPRESS_COUNT = N_COMPRESS;
localparam [7:0] DECOMPRESS_COUNT = N_DECOMPRESS;
localparam [7:0] BEAT_COUNT = BEAT_BYTES[7:0];

reg         enable_reg = 1'b1;
reg         soft_reset_reg = 1'b0;
reg  [31:0] scratch_reg = 32'd0;
reg         bvalid_reg = 1'b0;
reg         rvalid_reg = 1'b0;
reg  [31:0] rdata_reg = 32'd0;

wire write = s_axil_awvalid && s_axil_wvalid && !bvalid_reg;
wire read = s_axil_arvalid && !rvalid_reg;

assign enable = enable_reg;
assign soft_reset = soft_reset_reg;

assign s_axil_awready = write;
assign s_axil_wready = write;
assign s_axil_bresp = 2'b00;
assign s_axil_bvalid = bvalid_reg;
assign s_axil_arready = read;
assign s_axil_rdata = rdata_reg;
assign s_axil_rresp = 2'b00;
assign s_axil_rvalid = rvalid_reg;

// Register values, each field at its named position (cache_accelerator_defs.vh).
reg [31:0] caps_value, control_value, status_value, last_error_value;
always @* begin
    caps_value = 32'd0;
    caps_value[CAPS_COMPRESS_LSB +: 8] = COMPRESS_COUNT;
    caps_value[CAPS_DECOMPRESS_LSB +: 8] = DECOMPRESS_COUNT;
    caps_value[CAPS_BEAT_BYTES_LSB +: 8] = BEAT_COUNT;
    caps_value[CAPS_CHECKSUM_BIT] = 1'b1;
    caps_value[CAPS_DICT_BIT] = 1'b1;
    caps_value[CAPS_COMPRESS_DICT_BIT] = 1'b1;
    // Soft reset reads as 0: it clears itself.
    control_value = 32'd0;
    control_value[CONTROL_ENABLE_BIT] = enable_reg;
    status_value = 32'd0;
    status_value[STATUS_ENABLED_BIT] = enable_reg;
    status_value[STATUS_BUSY_LSB +: N_SLOTS] = slot_busy;
    last_error_value = 32'd0;
    last_error_value[LAST_ERROR_STATUS_LSB +: 8] = last_error;
end

// The dictionary ids, one register per decompress engine from REG_DICT_ID_BASE and one per
// compress engine from REG_COMPRESS_DICT_ID_BASE.
wire [11:0] dict_id_index = {s_axil_araddr[11:2], 2'b00} - REG_DICT_ID_BASE;
wire [11:0] compress_dict_id_index = {s_axil_araddr[11:2], 2'b00} - REG_COMPRESS_DICT_ID_BASE;
reg  [31:0] dict_id_value;
integer r;
always @* begin
    dict_id_value = 32'd0;
    for (r = 0; r < N_DECOMPRESS; r = r + 1) begin
        if ({20'd0, dict_id_index} == r * 4) begin
            dict_id_value = slot_dict_id[(N_COMPRESS + r)*32 +: 32];
        end
    end
    for (r = 0; r < N_COMPRESS; r = r + 1) begin
        if ({20'd0, compress_dict_id_index} == r * 4) begin
            dict_id_value = slot_dict_id[r*32 +: 32];
        end
    end
end

reg [31:0] read_value;
always @* begin
    case ({s_axil_araddr[11:2], 2'b00})
        REG_ID: read_value = ACCEL_ID;
        REG_VERSION: read_value = ACCEL_VERSION;
        REG_CAPS: read_value = caps_value;
        REG_HISTORY: read_value = HISTORY;
        REG_MAX_JOB: read_value = MAX_JOB;
        REG_DICT_SIZE: read_value = DICT_BYTES;
        REG_COMPRESS_DICT_SIZE: read_value = COMPRESS_DICT_BYTES;
        REG_CONTROL: read_value = control_value;
        REG_STATUS: read_value = status_value;
        REG_SCRATCH: read_value = scratch_reg;
        REG_JOBS_IN: read_value = jobs_in;
        REG_JOBS_OUT: read_value = jobs_out;
        REG_BYTES_IN_LO: read_value = bytes_in[31:0];
        REG_BYTES_IN_HI: read_value = bytes_in[63:32];
        REG_BYTES_OUT_LO: read_value = bytes_out[31:0];
        REG_BYTES_OUT_HI: read_value = bytes_out[63:32];
        REG_ERR_OPCODE: read_value = err_opcode;
        REG_ERR_LENGTH: read_value = err_length;
        REG_ERR_MALFORMED: read_value = err_malformed;
        REG_ERR_CRC: read_value = err_crc;
        REG_INCOMPRESSIBLE: read_value = incompressible;
        REG_LAST_ERROR: read_value = last_error_value;
        REG_LAST_ERROR_TAG: read_value = last_error_tag;
        default: read_value = dict_id_value;
    endcase
end

always @(posedge clk) begin
    soft_reset_reg <= 1'b0;
    if (write) begin
        bvalid_reg <= 1'b1;
        case ({s_axil_awaddr[11:2], 2'b00})
            REG_CONTROL: begin
                if (s_axil_wstrb[0]) begin
                    enable_reg <= s_axil_wdata[CONTROL_ENABLE_BIT];
                    soft_reset_reg <= s_axil_wdata[CONTROL_SOFT_RESET_BIT];
                end
            end
            REG_SCRATCH: begin
                if (s_axil_wstrb[0]) scratch_reg[7:0] <= s_axil_wdata[7:0];
                if (s_axil_wstrb[1]) scratch_reg[15:8] <= s_axil_wdata[15:8];
                if (s_axil_wstrb[2]) scratch_reg[23:16] <= s_axil_wdata[23:16];
                if (s_axil_wstrb[3]) scratch_reg[31:24] <= s_axil_wdata[31:24];
            end
            default: begin
            end
        endcase
    end else if (s_axil_bready) begin
        bvalid_reg <= 1'b0;
    end
    if (read) begin
        rvalid_reg <= 1'b1;
        rdata_reg <= read_value;
    end else if (s_axil_rready) begin
        rvalid_reg <= 1'b0;
    end

    if (rst) begin
        bvalid_reg <= 1'b0;
        rvalid_reg <= 1'b0;
        enable_reg <= 1'b1;
        soft_reset_reg <= 1'b0;
    end
end

// Protection types are not used; address bits below the word are always zero.
wire unused = &{1'b0, s_axil_awprot, s_axil_arprot, s_axil_awaddr[1:0], s_axil_araddr[1:0]};

endmodule

`resetall
`default_nettype wire
