/* The peer of lzcache's dictionary codec in the benchmarks: liblz4 1.10 used as its manual
 * advises for one dictionary and many small blocks, from C with no allocation per block. The
 * dictionary is hashed once (LZ4_loadDictSlow) and attached to a reused working stream per
 * block; decoding is LZ4_decompress_safe_usingDict. Linked against the liblz4 lz4-sys builds. */

#include <stdlib.h>

typedef union LZ4_stream_u LZ4_stream_t;
LZ4_stream_t *LZ4_createStream(void);
int LZ4_freeStream(LZ4_stream_t *stream);
int LZ4_loadDictSlow(LZ4_stream_t *stream, const char *dict, int size);
void LZ4_resetStream_fast(LZ4_stream_t *stream);
void LZ4_attach_dictionary(LZ4_stream_t *working, const LZ4_stream_t *dict);
int LZ4_compress_fast_continue(LZ4_stream_t *stream, const char *src, char *dst, int src_size,
                               int dst_capacity, int acceleration);
int LZ4_decompress_safe_usingDict(const char *src, char *dst, int src_size, int dst_capacity,
                                  const char *dict, int dict_size);

struct peer_dict {
    LZ4_stream_t *dict;
    LZ4_stream_t *working;
};

struct peer_dict *peer_dict_new(const char *dict, int size) {
    struct peer_dict *p = malloc(sizeof *p);
    if (!p) return NULL;
    p->dict = LZ4_createStream();
    p->working = LZ4_createStream();
    LZ4_loadDictSlow(p->dict, dict, size);
    return p;
}

void peer_dict_free(struct peer_dict *p) {
    LZ4_freeStream(p->dict);
    LZ4_freeStream(p->working);
    free(p);
}

int peer_dict_compress(struct peer_dict *p, const char *src, int n, char *dst, int cap) {
    LZ4_resetStream_fast(p->working);
    LZ4_attach_dictionary(p->working, p->dict);
    return LZ4_compress_fast_continue(p->working, src, dst, n, cap, 1);
}

int peer_dict_decompress(const char *src, int n, char *dst, int cap, const char *dict, int size) {
    return LZ4_decompress_safe_usingDict(src, dst, n, cap, dict, size);
}
