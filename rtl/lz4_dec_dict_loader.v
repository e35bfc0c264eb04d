/*
 * lzcache — LZ4 block decompressor: preset dictionary loader
 *
 * Writes a dictionary frame into the copy engine's dictionary memory and answers it with a
 * completion of its own.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

// Dictionary loader: one byte per cycle from the frame into the dictionary banks.
//
// Layout: a dictionary of D bytes is stored so that it ends on a row boundary of the banked
// memory (bytes at pad .. pad+D-1, pad = -D mod OUT_BYTES). The copy engine starts each job
// on a row boundary too, so dictionary byte i and the output byte D - i before a job's start
// sit in the same bank, and a match that runs from the dictionary into the output reads every
// lane of one command from one row of each bank (see lz4_dec_copy). The last 2*OUT_BYTES
// bytes are also kept in registers (`m_dict_tail`, oldest byte first, zeros before a short
// dictionary): the copy engine's recent-bytes window starts every job from them.
//
// Why one byte per cycle: a dictionary is loaded when the server adopts one (seconds to
// minutes apart), 64 KiB in 65 536 cycles; a row-wide write would need the frame aligned to
// the padding and costs a wide shifter on every lane. The loader starts only when the engine
// has no job in flight (`s_idle`), so no job reads the memory while it changes, and the
// dictionary is invalid from its first byte until its last byte checks out.
//
// Frame: s_user[31:0] (the job's raw-length field) declares D on the first beat; the frame
// must carry exactly D bytes, 1 <= D <= DICT_SIZE. Completion: status LZ4_OK or
// LZ4_ERR_DICT_LENGTH, and the bytes received (counted up to 2^32 - 1).
module lz4_dec_dict_loader #
(
    // Width of the input stream in bits
    parameter DATA_WIDTH = 512,
    // Width of tkeep: one bit per byte
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    // Bytes per row of the dictionary banks (the copy engine's OUT_BYTES)
    parameter OUT_BYTES = 32,
    // Largest dictionary in bytes (a power of two, 4*OUT_BYTES..65536)
    parameter DICT_SIZE = 65536,
    // Address width of the dictionary memory
    parameter DICT_WIDTH = $clog2(DICT_SIZE)
)
(
    input  wire                    clk,
    input  wire                    rst,

    /*
     * Dictionary frame (contiguous tkeep), offered only while the frame is a load
     */
    input  wire [DATA_WIDTH-1:0]   s_data,
    input  wire [KEEP_WIDTH-1:0]   s_keep,
    input  wire                    s_valid,
    output wire                    s_ready,
    input  wire                    s_last,
    input  wire [31:0]             s_user,
    // No job in flight in the engine: a load may start
    input  wire                    s_idle,

    /*
     * Writes into the dictionary banks
     */
    output wire                    m_wr_en,
    output wire [DICT_WIDTH-1:0]   m_wr_addr,
    output wire [7:0]              m_wr_data,

    /*
     * The dictionary in force: its length D (0: none, also while loading and after a failed
     * load) and its end in the banks (D rounded up to a row), both up to DICT_SIZE
     */
    output wire [16:0]             m_dict_len,
    output wire [16:0]             m_dict_end,
    output wire [OUT_BYTES*16-1:0] m_dict_tail,
    // One cycle when a load has ended (the copy engine takes the new dictionary's end and tail)
    output wire                    m_dict_changed,
    // Loading, or a completion not yet taken: no job may start
    output wire                    busy,

    /*
     * Completion of a load
     */
    output wire [3:0]              m_done_status,
    output wire [31:0]             m_done_length,
    output wire                    m_done_valid,
    input  wire                    m_done_ready
);

/* verilator lint_off UNUSEDPARAM */
`include "lz4_dec_status.vh"
/* verilator lint_on UNUSEDPARAM */

localparam LANE_WIDTH = $clog2(OUT_BYTES);
localparam [32:0] DICT_SIZE_33 = DICT_SIZE;
localparam [32:0] ROW_MASK_33 = OUT_BYTES - 1;

initial begin
    if ((1 << DICT_WIDTH) != DICT_SIZE || DICT_SIZE < 4 * OUT_BYTES || DICT_SIZE > 65536) begin
        $error("Error: DICT_SIZE must be a power of two in 4*OUT_BYTES..65536 (instance %m)");
        $finish;
    end
end

localparam [1:0]
    STATE_IDLE = 2'd0,
    STATE_LOAD = 2'd1,
    STATE_DONE = 2'd2;

reg [1:0]              state_reg = STATE_IDLE;
reg [DATA_WIDTH-1:0]   beat_data_reg = {DATA_WIDTH{1'b0}};
reg [KEEP_WIDTH-1:0]   beat_keep_reg = {KEEP_WIDTH{1'b0}};
reg                    beat_valid_reg = 1'b0;
reg                    beat_last_reg = 1'b0;
reg [DICT_WIDTH-1:0]   addr_reg = {DICT_WIDTH{1'b0}};
reg [32:0]             declared_reg = 33'd0;
reg [32:0]             count_reg = 33'd0;
reg [16:0]             dict_len_reg = 17'd0;
reg [16:0]             dict_end_reg = 17'd0;
reg [OUT_BYTES*16-1:0] tail_reg = {OUT_BYTES*16{1'b0}};
reg [3:0]              status_reg = LZ4_OK;
reg                    changed_reg = 1'b0;

// The byte in lane 0 of the held beat is written this cycle (tkeep is contiguous, so the
// beat's bytes are its low lanes and it is done when its keep runs out).
wire write_byte = state_reg == STATE_LOAD && beat_valid_reg && beat_keep_reg[0];
// The byte about to be written is within the declared length (count < declared), kept as a
// flip-flop: a 33-bit compare in front of the enables of the tail's 16*OUT_BYTES flip-flops
// was a critical path.
reg  in_bounds_reg = 1'b0;
wire in_bounds = in_bounds_reg;
wire [32:0] count_plus_one = count_reg + 1'b1;
wire beat_done = beat_valid_reg && !(beat_keep_reg[KEEP_WIDTH-1:1] != 0 && beat_keep_reg[0]);
// A beat is taken at the start of a load (once the engine is idle) and after each beat.
wire take_first = state_reg == STATE_IDLE && s_idle;
wire take_next = state_reg == STATE_LOAD && !beat_last_reg && (!beat_valid_reg || beat_done);

assign s_ready = take_first || take_next;

assign m_wr_en = write_byte && in_bounds;
assign m_wr_addr = addr_reg;
assign m_wr_data = beat_data_reg[7:0];

assign m_dict_len = dict_len_reg;
assign m_dict_end = dict_end_reg;
assign m_dict_tail = tail_reg;
assign busy = state_reg != STATE_IDLE;

assign m_done_status = status_reg;
assign m_done_length = count_reg[32] ? 32'hFFFF_FFFF : count_reg[31:0];
assign m_done_valid = state_reg == STATE_DONE;
assign m_dict_changed = changed_reg;

// The declared length rounded up to a row, and the padding in front of the dictionary.
wire [32:0]           declared = {1'b0, s_user};
wire [LANE_WIDTH-1:0] declared_pad = -s_user[LANE_WIDTH-1:0];
wire                  declared_ok = declared != 0 && declared <= DICT_SIZE_33;
wire [32:0]           loaded_end = (declared_reg + ROW_MASK_33) & ~ROW_MASK_33;
// A length that fits has no bits above 2^16.
wire unused = &{1'b0, loaded_end[32:17], declared_reg[32:17]};

always @(posedge clk) begin
    changed_reg <= 1'b0;
    case (state_reg)
        STATE_IDLE: begin
            if (s_valid && take_first) begin
                state_reg <= STATE_LOAD;
                declared_reg <= declared_ok ? declared : 33'd0;
                dict_len_reg <= 17'd0;
                dict_end_reg <= 17'd0;
                addr_reg <= {{(DICT_WIDTH-LANE_WIDTH){1'b0}}, declared_pad};
                count_reg <= 33'd0;
                in_bounds_reg <= declared_ok;
                tail_reg <= {OUT_BYTES*16{1'b0}};
                status_reg <= declared_ok ? LZ4_OK : LZ4_ERR_DICT_LENGTH;
            end
        end
        STATE_LOAD: begin
            if (write_byte) begin
                if (in_bounds) begin
                    addr_reg <= addr_reg + 1'b1;
                    tail_reg <= {beat_data_reg[7:0], tail_reg[OUT_BYTES*16-1:8]};
                end else begin
                    status_reg <= LZ4_ERR_DICT_LENGTH;
                end
                if (!count_reg[32]) begin
                    count_reg <= count_plus_one;
                    in_bounds_reg <= count_plus_one < declared_reg;
                end
            end
            if (beat_done && beat_last_reg) begin
                state_reg <= STATE_DONE;
                changed_reg <= 1'b1;
                if (status_reg == LZ4_OK && count_reg + {32'd0, write_byte} == declared_reg) begin
                    dict_len_reg <= declared_reg[16:0];
                    dict_end_reg <= loaded_end[16:0];
                end else begin
                    status_reg <= LZ4_ERR_DICT_LENGTH;
                end
            end
        end
        STATE_DONE: begin
            if (m_done_ready) begin
                state_reg <= STATE_IDLE;
            end
        end
        default: begin
            state_reg <= STATE_IDLE;
        end
    endcase

    // The held beat: loaded when taken, shifted a byte per cycle while it is written.
    if (s_valid && s_ready) begin
        beat_data_reg <= s_data;
        beat_keep_reg <= s_keep;
        beat_last_reg <= s_last;
        beat_valid_reg <= 1'b1;
    end else if (state_reg == STATE_LOAD && beat_valid_reg) begin
        if (beat_done) begin
            beat_valid_reg <= 1'b0;
        end else begin
            beat_data_reg <= beat_data_reg >> 8;
            beat_keep_reg <= beat_keep_reg >> 1;
        end
    end
    if (state_reg == STATE_DONE) begin
        beat_last_reg <= 1'b0;
    end

    if (rst) begin
        state_reg <= STATE_IDLE;
        changed_reg <= 1'b0;
        beat_valid_reg <= 1'b0;
        beat_last_reg <= 1'b0;
        dict_len_reg <= 17'd0;
        dict_end_reg <= 17'd0;
    end
end

endmodule

`resetall
`default_nettype wire
