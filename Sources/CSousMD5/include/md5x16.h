#ifndef SOUS_MD5X16_H
#define SOUS_MD5X16_H
#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU can run `sous_md5x16` (x86-64 with AVX-512F), else 0.
int sous_md5x16_available(void);

/// Runs the MD5 compression function over `nblocks` 64-byte blocks of 16 messages at once: lane j reads
/// its blocks from `ptrs[j]` on (each lane must have `nblocks` whole blocks there) and keeps its state in
/// `state[j]`, `state[16 + j]`, `state[32 + j]` and `state[48 + j]` (A, B, C, D). Only call it when
/// `sous_md5x16_available()` returns 1.
void sous_md5x16(uint32_t state[64], const uint8_t *const ptrs[16], size_t nblocks);

/// 1 when this CPU can run `sous_md5x8` (x86-64 with AVX-512F and AVX-512VL), else 0.
int sous_md5x8_available(void);

/// `sous_md5x16` for 8 lanes in 256-bit registers (half the work per block when half the lanes or fewer are
/// in use): lane j keeps its state in `state[j]`, `state[8 + j]`, `state[16 + j]` and `state[24 + j]`.
void sous_md5x8(uint32_t state[32], const uint8_t *const ptrs[8], size_t nblocks);

#endif
