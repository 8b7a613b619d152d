package request

import (
	"context"
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Search attributes the workflow keeps current, so that staff can find
// requests in the Temporal UI and with `temporal workflow list --query`.
var (
	SAReceipt        = temporal.NewSearchAttributeKeyKeyword("DsrReceipt")
	SAKind           = temporal.NewSearchAttributeKeyKeyword("DsrKind")
	SAJurisdiction   = temporal.NewSearchAttributeKeyKeyword("DsrJurisdiction")
	SAStage          = temporal.NewSearchAttributeKeyKeyword("DsrStage")
	SANeedsAttention = temporal.NewSearchAttributeKeyBool("DsrNeedsAttention")
)

// SearchAttributeTypes lists them for registration.
var SearchAttributeTypes = map[string]enums.IndexedValueType{
	SAReceipt.GetName():        enums.INDEXED_VALUE_TYPE_KEYWORD,
	SAKind.GetName():           enums.INDEXED_VALUE_TYPE_KEYWORD,
	SAJurisdiction.GetName():   enums.INDEXED_VALUE_TYPE_KEYWORD,
	SAStage.GetName():          enums.INDEXED_VALUE_TYPE_KEYWORD,
	SANeedsAttention.GetName(): enums.INDEXED_VALUE_TYPE_BOOL,
}

// RegisterSearchAttributes adds the attributes that the namespace lacks;
// safe at every worker start.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enums.IndexedValueType{}
	for name, typ := range SearchAttributeTypes {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	if err != nil {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}
