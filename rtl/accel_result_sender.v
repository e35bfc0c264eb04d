/*
 * lzcache — CacheAccelerator result sender
 *
 * Sends each finished result as one card-to-host frame: the 64-byte result header (over
 * 512/DATA_WIDTH beats), then the output from the engine's result buffer.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Picks the next ready result source round robin (the result slots, then the error path),
// sends its header built from the slot's fields, reads its buffer one word ahead of the
// output, and releases the source after the last beat. The header/buffer multiplexer reaches
// m_axis_* only through an output register, and m_axis_tready the sender only through it.
// The fields of the result being sent are outputs too: the counters count it as its header's
// last beat leaves (result_sent).
module accel_result_sender #
(
    // Width of the result stream in bits (64..512, dividing 512)
    parameter DATA_WIDTH = 512,
    // Width of tkeep
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    // Engines of each kind: slots 0..N_COMPRESS-1 compress, then decompress, then checksum
    parameter N_COMPRESS = 2,
    parameter N_DECOMPRESS = 2,
    // Largest output in bytes (a power of two: the result buffers' size)
    parameter MAX_JOB_BYTES = 1048576
)
(
    input  wire                               clk,
    // Resets the output register; core_rst (reset or soft reset) the sender's state
    input  wire                               rst,
    input  wire                               core_rst,

    /*
     * Results ready to send: a bit per slot, then the error path's
     */
    input  wire [N_COMPRESS+N_DECOMPRESS+1:0] source_ready,
    output wire [N_COMPRESS+N_DECOMPRESS+1:0] release_sources,

    /*
     * Result slots' fields, and the error path's
     */
    input  wire [(N_COMPRESS+N_DECOMPRESS+1)*8-1:0]  slot_status,
    input  wire [(N_COMPRESS+N_DECOMPRESS+1)*8-1:0]  slot_engine_status,
    input  wire [(N_COMPRESS+N_DECOMPRESS+1)*32-1:0] slot_tag,
    input  wire [(N_COMPRESS+N_DECOMPRESS+1)*32-1:0] slot_len,
    input  wire [(N_COMPRESS+N_DECOMPRESS+1)*64-1:0] slot_crc,
    input  wire [N_COMPRESS+N_DECOMPRESS:0]          slot_crc_valid,
    input  wire [N_COMPRESS+N_DECOMPRESS:0]          slot_load,
    input  wire [7:0]                         error_status,
    input  wire [7:0]                         error_opcode,
    input  wire [31:0]                        error_tag,

    /*
     * Result buffers: read port (one word of latency)
     */
    output wire [N_COMPRESS+N_DECOMPRESS+1:0] buffer_rd_en,
    output wire [$clog2(MAX_JOB_BYTES/KEEP_WIDTH)-1:0] buffer_rd_addr,
    input  wire [(N_COMPRESS+N_DECOMPRESS)*DATA_WIDTH-1:0] buffer_rd_data,

    /*
     * The result being sent, for the counters
     */
    output wire                               result_sent,
    output wire [7:0]                         result_status,
    output wire [31:0]                        result_len,
    output wire [31:0]                        result_tag,
    output wire                               result_crc_valid,

    /*
     * Card to host: results
     */
    output wire [DATA_WIDTH-1:0]              m_axis_tdata,
    output wire [KEEP_WIDTH-1:0]              m_axis_tkeep,
    output wire                               m_axis_tvalid,
    input  wire                               m_axis_tready,
    output wire                               m_axis_tlast
);

/* verilator lint_off UNUSEDPARAM */
`include "cache_accelerator_defs.vh"
/* verilator lint_on UNUSEDPARAM */

localparam N_ENGINES = N_COMPRESS + N_DECOMPRESS;
localparam N_SLOTS = N_ENGINES + 1;
localparam N_SOURCES = N_SLOTS + 1;
localparam ERROR_SOURCE = N_SLOTS;
localparam SOURCE_WIDTH = $clog2(N_SOURCES);
localparam WORDS = MAX_JOB_BYTES / KEEP_WIDTH;
localparam WORD_WIDTH = $clog2(WORDS);
localparam HEADER_BITS = 512;
localparam HEADER_BEATS = HEADER_BITS / DATA_WIDTH;
localparam HEADER_COUNT_WIDTH = HEADER_BEATS > 1 ? $clog2(HEADER_BEATS) : 1;

reg [N_SOURCES-1:0]  release_sources_next;
reg [N_SOURCES-1:0]  buffer_rd_en_next;
reg [WORD_WIDTH-1:0] buffer_rd_addr_next;

assign release_sources = release_sources_next;
assign buffer_rd_en = buffer_rd_en_next;
assign buffer_rd_addr = buffer_rd_addr_next;

localparam [1:0]
    SEND_IDLE = 2'd0,
    SEND_HEADER = 2'd1,
    SEND_READ = 2'd2,
    SEND_DATA = 2'd3;

reg  [1:0]              send_state_reg = SEND_IDLE, send_state_next;
reg  [SOURCE_WIDTH-1:0] source_reg = {SOURCE_WIDTH{1'b0}}, source_next;
reg  [SOURCE_WIDTH-1:0] rr_reg = {SOURCE_WIDTH{1'b0}}, rr_next;
reg  [WORD_WIDTH-1:0]   word_reg = {WORD_WIDTH{1'b0}}, word_next;
// The header beat being sent (always 0 at 512 bits).
reg  [HEADER_COUNT_WIDTH-1:0] header_beat_reg = {HEADER_COUNT_WIDTH{1'b0}}, header_beat_next;
wire                    last_header_beat = header_beat_reg == HEADER_BEATS[HEADER_COUNT_WIDTH-1:0] - 1'b1
    || HEADER_BEATS == 1;

// Round robin: the first ready source at or after rr_reg.
reg                     pick_found;
reg  [SOURCE_WIDTH-1:0] pick;
integer p;
reg [31:0] q;
always @* begin
    pick_found = 1'b0;
    pick = {SOURCE_WIDTH{1'b0}};
    for (p = 0; p < N_SOURCES; p = p + 1) begin
        // rr_reg + p wraps at most once: one subtraction, not a divider.
        q = p + {{(32-SOURCE_WIDTH){1'b0}}, rr_reg};
        if (q >= N_SOURCES) begin
            q = q - N_SOURCES;
        end
        if (!pick_found && source_ready[q]) begin
            pick_found = 1'b1;
            pick = q[SOURCE_WIDTH-1:0];
        end
    end
end
wire unused_pick = &{1'b0, q};

wire        from_error = source_reg == ERROR_SOURCE[SOURCE_WIDTH-1:0];
wire [7:0]  res_status = from_error ? error_status : slot_status[source_reg*8 +: 8];
wire [7:0]  res_opcode = from_error ? error_opcode
    : source_reg < N_ENGINES && slot_load[source_reg] ? OP_LOAD_DICT
    : source_reg < N_COMPRESS ? OP_COMPRESS
    : source_reg < N_ENGINES ? OP_DECOMPRESS : OP_CHECKSUM;
wire [31:0] res_tag = from_error ? error_tag : slot_tag[source_reg*32 +: 32];
wire [31:0] res_len = from_error ? 32'd0 : slot_len[source_reg*32 +: 32];
wire [63:0] res_crc = from_error ? 64'd0 : slot_crc[source_reg*64 +: 64];
wire        res_crc_valid = !from_error && slot_crc_valid[source_reg];
wire [7:0]  res_engine_status = from_error ? 8'd0 : slot_engine_status[source_reg*8 +: 8];

reg [HEADER_BITS-1:0] header;
always @* begin
    header = {HEADER_BITS{1'b0}};
    header[15:0] = RESULT_MAGIC;
    header[RES_OPCODE_LSB +: 8] = res_opcode;
    header[RES_STATUS_LSB +: 8] = res_status;
    header[RES_TAG_LSB +: 32] = res_tag;
    header[RES_OUTPUT_LEN_LSB +: 32] = res_len;
    header[RES_CRC_LSB +: 64] = res_crc;
    header[RES_CRC_VALID_BIT] = res_crc_valid;
    header[RES_ENGINE_STATUS_LSB +: 8] = res_engine_status;
    header[RES_ENGINE_LSB +: 8] = {{(8-SOURCE_WIDTH){1'b0}}, source_reg};
end

// The last output word and the bytes it holds.
wire [31:0]           last_word_wide = (res_len - 32'd1) >> $clog2(KEEP_WIDTH);
wire [WORD_WIDTH-1:0] last_word = last_word_wide[WORD_WIDTH-1:0];
wire [31:0]           tail_bytes = res_len - {last_word_wide[31-$clog2(KEEP_WIDTH):0], {$clog2(KEEP_WIDTH){1'b0}}};
wire                  at_last_word = word_reg == last_word;

reg [KEEP_WIDTH-1:0] tail_keep;
integer k;
always @* begin
    for (k = 0; k < KEEP_WIDTH; k = k + 1) begin
        tail_keep[k] = k < tail_bytes;
    end
end

reg [DATA_WIDTH-1:0] out_data;
reg [KEEP_WIDTH-1:0] out_keep;
reg                  out_valid;
reg                  out_last;

// Output register: the header/buffer multiplexer and the sender's state reach m_axis_* only
// through flip-flops, and m_axis_tready reaches the sender only through one.
wire result_tready;

axis_skid_buffer #(
    .WIDTH(DATA_WIDTH + KEEP_WIDTH + 1)
)
result_register (
    .clk(clk),
    .rst(rst),
    .s_payload({out_data, out_keep, out_last}),
    .s_valid(out_valid),
    .s_ready(result_tready),
    .m_payload({m_axis_tdata, m_axis_tkeep, m_axis_tlast}),
    .m_valid(m_axis_tvalid),
    .m_ready(m_axis_tready)
);

always @* begin
    send_state_next = send_state_reg;
    source_next = source_reg;
    rr_next = rr_reg;
    word_next = word_reg;
    header_beat_next = header_beat_reg;
    release_sources_next = {N_SOURCES{1'b0}};
    buffer_rd_en_next = {N_SOURCES{1'b0}};
    buffer_rd_addr_next = word_reg;
    out_data = header[header_beat_reg*DATA_WIDTH +: DATA_WIDTH];
    out_keep = {KEEP_WIDTH{1'b1}};
    out_valid = 1'b0;
    out_last = 1'b0;

    case (send_state_reg)
        SEND_IDLE: begin
            if (pick_found) begin
                source_next = pick;
                rr_next = pick == N_SOURCES - 1 ? {SOURCE_WIDTH{1'b0}} : pick + 1'b1;
                send_state_next = SEND_HEADER;
            end
        end
        SEND_HEADER: begin
            out_valid = 1'b1;
            out_last = res_len == 32'd0 && last_header_beat;
            if (result_tready && !last_header_beat) begin
                header_beat_next = header_beat_reg + 1'b1;
            end else if (result_tready) begin
                header_beat_next = {HEADER_COUNT_WIDTH{1'b0}};
                word_next = {WORD_WIDTH{1'b0}};
                if (res_len == 32'd0) begin
                    release_sources_next[source_reg] = 1'b1;
                    send_state_next = SEND_IDLE;
                end else begin
                    send_state_next = SEND_READ;
                end
            end
        end
        SEND_READ: begin
            buffer_rd_en_next[source_reg] = 1'b1;
            send_state_next = SEND_DATA;
        end
        SEND_DATA: begin
            out_data = buffer_rd_data[source_reg*DATA_WIDTH +: DATA_WIDTH];
            out_keep = at_last_word ? tail_keep : {KEEP_WIDTH{1'b1}};
            out_last = at_last_word;
            out_valid = 1'b1;
            if (result_tready) begin
                if (at_last_word) begin
                    release_sources_next[source_reg] = 1'b1;
                    send_state_next = SEND_IDLE;
                end else begin
                    // Read the next word now: it is presented from the next cycle on.
                    word_next = word_reg + 1'b1;
                    buffer_rd_addr_next = word_reg + 1'b1;
                    buffer_rd_en_next[source_reg] = 1'b1;
                end
            end
        end
        default: begin
            send_state_next = SEND_IDLE;
        end
    endcase
end

assign result_sent = send_state_reg == SEND_HEADER && result_tready && last_header_beat;
assign result_status = res_status;
assign result_len = res_len;
assign result_tag = res_tag;
assign result_crc_valid = res_crc_valid;

always @(posedge clk) begin
    send_state_reg <= send_state_next;
    source_reg <= source_next;
    rr_reg <= rr_next;
    word_reg <= word_next;
    header_beat_reg <= header_beat_next;

    if (core_rst) begin
        send_state_reg <= SEND_IDLE;
        header_beat_reg <= {HEADER_COUNT_WIDTH{1'b0}};
        rr_reg <= {SOURCE_WIDTH{1'b0}};
    end
end

// Only the last word's index within the buffer matters.
wire unused = &{1'b0, last_word_wide[31:WORD_WIDTH]};

endmodule

`resetall
`default_nettype wire
