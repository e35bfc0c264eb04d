/*
 * lzcache — CacheAccelerator result slot
 *
 * One engine's (or the checksum unit's) job as the host will see it: which job it runs, its
 * output buffered, and its completion turned into the result header's fields.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Why results are buffered: the result header holds the output length, CRC and status, which
// are known only when the engine has finished; an engine therefore writes its output into
// its slot's buffer of MAX_JOB_BYTES, and the result sender streams header and output once
// the slot is done. The checksum unit has no output and no buffer.
//
// A slot is busy from its job's dispatch to its release by the sender. It keeps its engine's
// dictionary id: set when a load is dispatched, cleared when the load fails or the engines
// are reset (their dictionaries are gone with it).
//
// The engines' completions (lz4_comp_status.vh, lz4_dec_status.vh) become a result status
// (cache_accelerator_defs.vh): a compress block that is incompressible or larger than the
// buffer is sent without output; a decompress job that produced fewer bytes than declared is
// RES_LENGTH, any other failure RES_MALFORMED; a failed load RES_BAD_DICT.
module accel_result_slot #
(
    // What the slot holds: SLOT_COMPRESS, SLOT_DECOMPRESS or SLOT_CHECKSUM
    parameter KIND = 0,
    // Width of the engine's output stream in bits
    parameter DATA_WIDTH = 512,
    // Largest output in bytes (a power of two: the buffer's size)
    parameter MAX_JOB_BYTES = 1048576,
    // Buffer words (DATA_WIDTH bits each) and their address width
    parameter WORDS = MAX_JOB_BYTES / (DATA_WIDTH/8),
    parameter WORD_WIDTH = $clog2(WORDS)
)
(
    input  wire                  clk,
    // Reset or the accelerator's soft reset
    input  wire                  rst,

    /*
     * A job dispatched to this slot
     */
    input  wire                  assign_job,
    input  wire [31:0]           assign_tag,
    input  wire                  assign_is_load,
    input  wire [31:0]           assign_dict_id,

    /*
     * The engine's output and completion (its last beat's tuser)
     */
    input  wire [DATA_WIDTH-1:0] out_data,
    input  wire                  out_valid,
    input  wire                  out_last,
    input  wire [127:0]          out_user,

    /*
     * The sender: buffer reads (one word of latency) and the release after the result's
     * last beat
     */
    input  wire                  rd_en,
    input  wire [WORD_WIDTH-1:0] rd_addr,
    output wire [DATA_WIDTH-1:0] rd_data,
    input  wire                  release_slot,

    /*
     * The slot's state and its result's fields
     */
    output wire                  busy,
    output wire                  done,
    output wire [31:0]           tag,
    output wire                  is_load,
    output wire [31:0]           dict_id,
    output wire [7:0]            status,
    output wire [7:0]            engine_status,
    output wire [31:0]           len,
    output wire [63:0]           crc,
    output wire                  crc_valid
);

/* verilator lint_off UNUSEDPARAM */
`include "cache_accelerator_defs.vh"
`include "lz4_dec_status.vh"
`include "lz4_comp_status.vh"
/* verilator lint_on UNUSEDPARAM */

`include "accel_slot_kind.vh"
localparam [31:0] MAX_JOB = MAX_JOB_BYTES;

initial begin
    if (KIND != SLOT_COMPRESS && KIND != SLOT_DECOMPRESS && KIND != SLOT_CHECKSUM) begin
        $error("Error: KIND must be 0 (compress), 1 (decompress) or 2 (checksum) (instance %m)");
        $finish;
    end
    if ((1 << WORD_WIDTH) != WORDS) begin
        $error("Error: MAX_JOB_BYTES must be a power of two (instance %m)");
        $finish;
    end
end

reg         busy_reg = 1'b0;
reg         done_reg = 1'b0;
reg  [31:0] tag_reg = 32'd0;
reg         is_load_reg = 1'b0;
reg  [31:0] dict_id_reg = 32'd0;
reg  [7:0]  status_reg = 8'd0;
reg  [7:0]  engine_status_reg = 8'd0;
reg  [31:0] len_reg = 32'd0;
reg  [63:0] crc_reg = 64'd0;
reg         crc_valid_reg = 1'b0;

assign busy = busy_reg;
assign done = done_reg;
assign tag = tag_reg;
assign is_load = is_load_reg;
assign dict_id = dict_id_reg;
assign status = status_reg;
assign engine_status = engine_status_reg;
assign len = len_reg;
assign crc = crc_reg;
assign crc_valid = crc_valid_reg;

// Output words written so far; the top bit set when the buffer is full (further words are
// dropped: such a block is reported incompressible, see below).
reg  [WORD_WIDTH:0] words_reg = {(WORD_WIDTH+1){1'b0}};
wire                room = !words_reg[WORD_WIDTH];

generate
    if (KIND == SLOT_CHECKSUM) begin : no_buffer
        assign rd_data = {DATA_WIDTH{1'b0}};
        wire unused_buffer = &{1'b0, rd_en, rd_addr, out_data, room};
    end else begin : buffer
        ram_sdp #(
            .WIDTH(DATA_WIDTH),
            .DEPTH(WORDS)
        )
        ram (
            .clk(clk),
            .wr_en(out_valid && room),
            .wr_addr(words_reg[WORD_WIDTH-1:0]),
            .wr_data(out_data),
            .rd_en(rd_en),
            .rd_addr(rd_addr),
            .rd_data(rd_data)
        );
    end
endgenerate

// Both engines report a load's status at the same place, 0 for ok (cache_accelerator checks).
wire [3:0] done_status = out_user[LZ4_DONE_STATUS_LSB +: 4];

always @(posedge clk) begin
    if (out_valid) begin
        if (room && KIND != SLOT_CHECKSUM) begin
            words_reg <= words_reg + 1'b1;
        end
        if (out_last) begin
            done_reg <= 1'b1;
            // The checksum unit's CRC sits where the engines' completions have theirs.
            crc_reg <= out_user[LZ4_DONE_CRC_LSB +: 64];
            if (KIND != SLOT_CHECKSUM && is_load_reg) begin
                // A dictionary load: no output (a compress engine's one-byte empty block is
                // not sent); a failed one leaves no dictionary.
                engine_status_reg <= {4'd0, done_status};
                len_reg <= 32'd0;
                crc_valid_reg <= 1'b0;
                if (done_status == LZ4_OK) begin
                    status_reg <= RES_OK;
                end else begin
                    status_reg <= RES_BAD_DICT;
                    dict_id_reg <= 32'd0;
                end
            end else if (KIND == SLOT_COMPRESS) begin
                engine_status_reg <= {4'd0, out_user[LZ4C_DONE_STATUS_LSB +: 4]};
                // Incompressible, no block, or a block over the buffer: no output.
                if (out_user[LZ4C_DONE_INCOMPRESSIBLE_BIT]
                        || out_user[LZ4C_DONE_LENGTH_LSB +: 32] > MAX_JOB) begin
                    status_reg <= RES_INCOMPRESSIBLE;
                    len_reg <= 32'd0;
                end else begin
                    status_reg <= RES_OK;
                    len_reg <= out_user[LZ4C_DONE_LENGTH_LSB +: 32];
                end
                crc_valid_reg <= 1'b1;
            end else if (KIND == SLOT_DECOMPRESS) begin
                engine_status_reg <= {4'd0, done_status};
                if (done_status == LZ4_OK) begin
                    status_reg <= RES_OK;
                    len_reg <= out_user[LZ4_DONE_LENGTH_LSB +: 32];
                end else begin
                    status_reg <= done_status == LZ4_ERR_SHORT ? RES_LENGTH : RES_MALFORMED;
                    len_reg <= 32'd0;
                end
                crc_valid_reg <= out_user[LZ4_DONE_CRC_VALID_BIT];
            end else begin
                engine_status_reg <= 8'd0;
                status_reg <= RES_OK;
                len_reg <= 32'd0;
                crc_valid_reg <= 1'b1;
            end
        end
    end
    if (release_slot) begin
        done_reg <= 1'b0;
        busy_reg <= 1'b0;
        words_reg <= {(WORD_WIDTH+1){1'b0}};
    end
    if (assign_job) begin
        busy_reg <= 1'b1;
        tag_reg <= assign_tag;
        is_load_reg <= assign_is_load;
        if (assign_is_load) begin
            dict_id_reg <= assign_dict_id;
        end
    end

    if (rst) begin
        busy_reg <= 1'b0;
        is_load_reg <= 1'b0;
        // The engine's dictionary is gone with its reset.
        dict_id_reg <= 32'd0;
        done_reg <= 1'b0;
        words_reg <= {(WORD_WIDTH+1){1'b0}};
    end
end

// The upper completion bits are the engines' own (lengths' and flags' neighbours).
wire unused_user = &{1'b0, out_user};

endmodule

`resetall
`default_nettype wire
