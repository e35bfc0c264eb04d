/*
 * lzcache — CacheAccelerator job header
 *
 * Gathers a job's 64-byte header from the host-to-card stream and checks it: the fields the
 * dispatcher routes by, and whether the job can run at all.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// At 512 bits the header is the job's first beat itself and its checks are combinational. On
// a narrower stream its 512/DATA_WIDTH beats are gathered into a register (`gathered` once
// all are in, or the frame ended early: the missing bytes read as zero), and the checks go
// into registers one cycle later (`valid`): the dispatcher's decision, and the clearing of
// the gather register it makes, then start from flip-flops — on the board's 64-bit stream
// this was the 100 MHz clock's critical path. One cycle per job, beside eight header beats.
//
// The checks depend on nothing but the header: a known magic and opcode, lengths within
// MAX_JOB_BYTES, and for a dictionary load a nonzero id and an engine that exists.
module accel_job_header #
(
    // Width of the job stream in bits (64..512, dividing 512)
    parameter DATA_WIDTH = 512,
    // Engines of each kind (a load names one by its index among its kind)
    parameter N_COMPRESS = 2,
    parameter N_DECOMPRESS = 2,
    // Largest job input and output in bytes
    parameter MAX_JOB_BYTES = 1048576
)
(
    input  wire                  clk,
    // Reset or the accelerator's soft reset
    input  wire                  rst,

    /*
     * The job stream (the dispatcher's view of it) and the dispatcher's orders: take a beat
     * into the header, and drop the header once its job is dispatched or refused
     */
    input  wire [DATA_WIDTH-1:0] job_tdata,
    input  wire                  job_tvalid,
    input  wire                  job_tlast,
    input  wire                  gather,
    input  wire                  take,

    /*
     * The header: all its beats in, its checks done, and whether its frame ended with it
     */
    output wire                  gathered,
    output wire                  valid,
    output wire                  last,

    /*
     * Its fields (cache_accelerator_defs.vh)
     */
    output wire [7:0]            opcode,
    output wire [31:0]           tag,
    output wire [31:0]           input_len,
    output wire [31:0]           raw_len,
    output wire [63:0]           crc,
    output wire [31:0]           dict_id,
    output wire [7:0]            engine,

    /*
     * Its checks
     */
    output wire                  known,
    output wire                  too_large,
    output wire                  is_load,
    output wire                  uses_dict,
    output wire                  bad_load,
    output wire                  load_compress
);

/* verilator lint_off UNUSEDPARAM */
`include "cache_accelerator_defs.vh"
/* verilator lint_on UNUSEDPARAM */

localparam HEADER_BITS = 512;
localparam HEADER_BEATS = HEADER_BITS / DATA_WIDTH;
localparam HEADER_COUNT_WIDTH = HEADER_BEATS > 1 ? $clog2(HEADER_BEATS) : 1;
localparam [31:0] MAX_JOB = MAX_JOB_BYTES;
localparam [7:0] COMPRESS_COUNT = N_COMPRESS;
localparam [7:0] DECOMPRESS_COUNT = N_DECOMPRESS;

wire [HEADER_BITS-1:0] header_data;

generate
    if (HEADER_BEATS == 1) begin : header_beat
        assign header_data = job_tdata;
        assign gathered = job_tvalid;
        assign last = job_tlast;
        wire unused_orders = &{1'b0, gather, take, clk, rst};
    end else begin : header_gather_register
        reg [HEADER_BITS-1:0]      data_reg = {HEADER_BITS{1'b0}};
        reg [HEADER_COUNT_WIDTH:0] count_reg = {(HEADER_COUNT_WIDTH+1){1'b0}};
        reg                        last_reg = 1'b0;

        assign header_data = data_reg;
        assign gathered = count_reg == HEADER_BEATS[HEADER_COUNT_WIDTH:0];
        assign last = last_reg;
        // The dispatcher's gather order already holds the beat's valid.
        wire unused_valid = &{1'b0, job_tvalid};

        always @(posedge clk) begin
            if (gather) begin
                data_reg[count_reg[HEADER_COUNT_WIDTH-1:0]*DATA_WIDTH +: DATA_WIDTH] <= job_tdata;
                count_reg <= job_tlast ? HEADER_BEATS[HEADER_COUNT_WIDTH:0] : count_reg + 1'b1;
                last_reg <= job_tlast;
            end
            if (take) begin
                data_reg <= {HEADER_BITS{1'b0}};
                count_reg <= {(HEADER_COUNT_WIDTH+1){1'b0}};
                last_reg <= 1'b0;
            end
            if (rst) begin
                data_reg <= {HEADER_BITS{1'b0}};
                count_reg <= {(HEADER_COUNT_WIDTH+1){1'b0}};
                last_reg <= 1'b0;
            end
        end
    end
endgenerate

wire [15:0] magic = header_data[15:0];
wire        load_compress_now = header_data[HDR_LOAD_COMPRESS_BIT];
assign opcode = header_data[HDR_OPCODE_LSB +: 8];
assign tag = header_data[HDR_TAG_LSB +: 32];
assign input_len = header_data[HDR_INPUT_LEN_LSB +: 32];
assign raw_len = header_data[HDR_RAW_LEN_LSB +: 32];
assign crc = header_data[HDR_CRC_LSB +: 64];
assign dict_id = header_data[HDR_DICT_ID_LSB +: 32];
assign engine = header_data[HDR_ENGINE_LSB +: 8];
// The rest of the header is reserved.
wire unused_header_bits = &{1'b0, header_data[HEADER_BITS-1:HDR_LOAD_COMPRESS_BIT+1],
    header_data[31:24]};

wire known_now = magic == JOB_MAGIC
    && (opcode == OP_COMPRESS || opcode == OP_DECOMPRESS || opcode == OP_CHECKSUM
        || opcode == OP_LOAD_DICT);
wire too_large_now = input_len > MAX_JOB || (opcode == OP_DECOMPRESS && raw_len > MAX_JOB);
wire is_load_now = opcode == OP_LOAD_DICT;
wire uses_dict_now = (opcode == OP_DECOMPRESS || opcode == OP_COMPRESS) && dict_id != 32'd0;
// A load naming no engine or id 0 is refused at once (the engine checks the length).
wire bad_load_now = is_load_now && (dict_id == 32'd0
    || engine >= (load_compress_now ? COMPRESS_COUNT : DECOMPRESS_COUNT));

generate
    if (HEADER_BEATS == 1) begin : checks_now
        assign valid = gathered;
        assign {known, too_large, is_load, uses_dict, bad_load, load_compress} =
            {known_now, too_large_now, is_load_now, uses_dict_now, bad_load_now,
                load_compress_now};
    end else begin : checks_register
        reg       checked_reg = 1'b0;
        reg [5:0] checks_reg = 6'd0;

        assign valid = gathered && checked_reg;
        assign {known, too_large, is_load, uses_dict, bad_load, load_compress} = checks_reg;

        always @(posedge clk) begin
            checks_reg <= {known_now, too_large_now, is_load_now, uses_dict_now, bad_load_now,
                load_compress_now};
            checked_reg <= gathered && !take;
            if (rst) begin
                checked_reg <= 1'b0;
            end
        end
    end
endgenerate

endmodule

`resetall
`default_nettype wire
