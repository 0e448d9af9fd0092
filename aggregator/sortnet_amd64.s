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
