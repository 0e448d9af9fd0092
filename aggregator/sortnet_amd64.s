//go:build !purego

#include "textflag.h"

// func sortRows4AVX2(rows *int64, net *uint32, n int)
//
// For each of the n comparators of net (packed byte offsets i | j<<16),
// rows i and j, four int64 lanes each, become their lane-wise minimum and
// maximum: VPCMPGTQ gives the lanes where row i is greater, and VPBLENDVB
// picks by them.
TEXT ·sortRows4AVX2(SB), NOSPLIT, $0-24
	MOVQ rows+0(FP), DI
	MOVQ net+8(FP), SI
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JZ   done

loop:
	MOVL (SI), AX
	MOVL AX, BX
	ANDL $0xffff, AX
	SHRL $16, BX
	VMOVDQU (DI)(AX*1), Y0
	VMOVDQU (DI)(BX*1), Y1
	VPCMPGTQ Y1, Y0, Y2       // Y2 = Y0 > Y1, lane by lane
	VPBLENDVB Y2, Y1, Y0, Y3  // Y3 = min: Y1 where Y0 > Y1, else Y0
	VPBLENDVB Y2, Y0, Y1, Y4  // Y4 = max: Y0 where Y0 > Y1, else Y1
	VMOVDQU Y3, (DI)(AX*1)
	VMOVDQU Y4, (DI)(BX*1)
	ADDQ $4, SI
	DECQ CX
	JNZ  loop
	VZEROUPPER

done:
	RET

// func madRuns4AVX2(rows *int64, m *[4]int64, runs, span int, out *[4]int64)
//
// out[l] = the least, over w in [0, runs), of max(m[l] − row w, row w+span
// − m[l]) in lane l (wrapping arithmetic, as in Go).
TEXT ·madRuns4AVX2(SB), NOSPLIT, $0-40
	MOVQ rows+0(FP), SI
	MOVQ m+8(FP), AX
	MOVQ runs+16(FP), CX
	MOVQ span+24(FP), DX
	MOVQ out+32(FP), DI
	VMOVDQU (AX), Y0
	SHLQ $5, DX
	LEAQ (SI)(DX*1), BX
	VPCMPEQQ Y1, Y1, Y1
	VPSRLQ $1, Y1, Y1         // 2⁶³−1 in every lane: the least so far
	TESTQ CX, CX
	JZ   madDone

madLoop:
	VMOVDQU (SI), Y2
	VPSUBQ Y2, Y0, Y2         // m − row w
	VMOVDQU (BX), Y3
	VPSUBQ Y0, Y3, Y3         // row w+span − m
	VPCMPGTQ Y3, Y2, Y4
	VPBLENDVB Y4, Y2, Y3, Y5  // the larger
	VPCMPGTQ Y5, Y1, Y4
	VPBLENDVB Y4, Y5, Y1, Y1  // the least so far
	ADDQ $32, SI
	ADDQ $32, BX
	DECQ CX
	JNZ  madLoop

madDone:
	VMOVDQU Y1, (DI)
	VZEROUPPER
	RET

// func clipSum4AVX2(rows *int64, n int, mc *[8]int64, out *[8]int64)
//
// With m = mc[0:4] and c = mc[4:8], lane by lane over rows 0..n−1:
// out[0:4] = Σ clamp(v − m, −c, c) and out[4:8] = #{v : −c ≤ v − m ≤ c}
// (wrapping arithmetic, as in Go).
TEXT ·clipSum4AVX2(SB), NOSPLIT, $0-32
	MOVQ rows+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ mc+16(FP), AX
	MOVQ out+24(FP), DI
	VMOVDQU (AX), Y0          // m
	VMOVDQU 32(AX), Y1        // c
	VPXOR Y2, Y2, Y2
	VPSUBQ Y1, Y2, Y3         // −c
	VPXOR Y4, Y4, Y4          // the sum
	VPXOR Y5, Y5, Y5          // minus the count inside
	TESTQ CX, CX
	JZ   clipDone

clipLoop:
	VMOVDQU (SI), Y6
	VPSUBQ Y0, Y6, Y6         // r = v − m
	VPCMPGTQ Y6, Y3, Y7       // −c > r
	VPBLENDVB Y7, Y3, Y6, Y8
	VPCMPGTQ Y1, Y8, Y7       // > c
	VPBLENDVB Y7, Y1, Y8, Y8  // clamp(r, −c, c)
	VPADDQ Y8, Y4, Y4
	VPCMPEQQ Y8, Y6, Y7       // all ones where r was inside
	VPADDQ Y7, Y5, Y5
	ADDQ $32, SI
	DECQ CX
	JNZ  clipLoop

clipDone:
	VPSUBQ Y5, Y2, Y5         // the count inside
	VMOVDQU Y4, (DI)
	VMOVDQU Y5, 32(DI)
	VZEROUPPER
	RET
